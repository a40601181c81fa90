"""Function logs through the CloudWatch Logs API: groups and streams Lambda creates, the platform
lines (START/END/REPORT and the timeout line), the AWS CLI's describe-log-groups,
describe-log-streams, get-log-events and filter-log-events, GetLogEvents paging tokens,
PutLogEvents, retention on the server clock, and the errors of each."""

from __future__ import annotations

import base64
import json
import math
import re
import time

import pytest
from botocore.exceptions import ClientError
from harness import ACCOUNT, REGION, Clients, Env, Tributary, client, error_of, unique, wait_for, zip_bytes

HANDLER = """\
import time


def handler(event, context):
    print("hello from", context.aws_request_id)
    if event.get("fail"):
        raise ValueError("boom " + event["fail"])
    if event.get("sleep"):
        print("sleeping", event["sleep"])
        time.sleep(event["sleep"])
    return {"stream": context.log_stream_name, "group": context.log_group_name}
"""

STREAM_NAME = re.compile(r"^(\d{4})/(\d\d)/(\d\d)/\[\$LATEST\][0-9a-f]{32}$")
REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: (?P<used>\d+) MB\t(?:Init Duration: (?P<init>\d+\.\d\d) ms\t)?\n$"
)
TIMED_OUT = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<id>[0-9a-f-]{36}) Task timed out after 1\.00 seconds\n$"
)


@pytest.fixture(scope="module")
def logs(server):
    return client("logs", server.endpoint)


def invoke(env, name, payload=None):
    r = env.c.lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}))
    body = json.loads(r["Payload"].read())
    return r, body


def group_events(logs, group):
    """Every event of a group, through FilterLogEvents' pages."""
    events, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=group, **kw)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def wait_messages(logs, group, what, predicate):
    """Waits until the group's events satisfy `predicate`; returns them (logs are stored
    asynchronously, within ~100 ms of being written)."""

    def check():
        try:
            events = group_events(logs, group)
        except ClientError:
            return None
        return events if predicate(events) else None

    return wait_for(check, what)


def count(events, prefix):
    return sum(1 for e in events if e["message"].startswith(prefix))


@pytest.fixture(scope="module")
def warm_function(server, clients, logs):
    """A function invoked three times in a row (one environment), once with an exception."""
    env = Env(server, clients, None)
    name = env.create_function(zip_bytes({"handler.py": HANDLER}))
    results = [invoke(env, name, {"n": 1}), invoke(env, name, {"fail": "x"}), invoke(env, name, {"n": 3})]
    ids = [r["ResponseMetadata"]["RequestId"] for r, _ in results]
    group = f"/aws/lambda/{name}"
    events = wait_messages(logs, group, "three REPORT lines", lambda ev: count(ev, "REPORT RequestId:") == 3)
    return {"name": name, "group": group, "ids": ids, "results": results, "events": events}


def test_group_and_stream_are_created_on_first_output(warm_function, aws, env):
    group, name = warm_function["group"], warm_function["name"]
    out = aws("logs", "describe-log-groups", "--log-group-name-prefix", group)
    [g] = out["logGroups"]
    assert g["logGroupName"] == group
    assert g["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    assert g["logGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    assert g["storedBytes"] > 0 and g["metricFilterCount"] == 0
    assert g["logGroupClass"] == "STANDARD"
    assert "retentionInDays" not in g  # never expire by default
    assert abs(g["creationTime"] / 1000 - env.clock()) < 60

    out = aws("logs", "describe-log-streams", "--log-group-name", group)
    [s] = out["logStreams"]  # one environment served all three invocations
    m = STREAM_NAME.match(s["logStreamName"])
    assert m, s["logStreamName"]
    assert time.strftime("%Y/%m/%d", time.gmtime(s["creationTime"] / 1000)) == "/".join(m.groups())
    # The environment was told its stream (AWS_LAMBDA_LOG_STREAM_NAME) and group.
    for _, body in (warm_function["results"][0], warm_function["results"][2]):
        assert body == {"stream": s["logStreamName"], "group": group}
    assert s["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{s['logStreamName']}"
    assert s["firstEventTimestamp"] <= s["lastEventTimestamp"] <= s["lastIngestionTime"]
    assert s["storedBytes"] == 0
    assert re.fullmatch(r"\d{56}", s["uploadSequenceToken"])


def test_platform_lines_frame_each_invocation(warm_function, aws):
    group = warm_function["group"]
    [stream] = aws("logs", "describe-log-streams", "--log-group-name", group)["logStreams"]
    out = aws(
        "logs", "get-log-events", "--log-group-name", group,
        "--log-stream-name", stream["logStreamName"], "--start-from-head",
    )  # fmt: skip
    messages = [e["message"] for e in out["events"]]
    assert all(m.endswith("\n") for m in messages), messages
    for e in out["events"]:
        assert e["timestamp"] <= e["ingestionTime"]
    # Time order within the stream.
    assert [e["timestamp"] for e in out["events"]] == sorted(e["timestamp"] for e in out["events"])

    for i, rid in enumerate(warm_function["ids"]):
        start = messages.index(f"START RequestId: {rid} Version: $LATEST\n")
        hello = messages.index(f"hello from {rid}\n")
        end = messages.index(f"END RequestId: {rid}\n")
        [report] = [m for m in messages if m.startswith(f"REPORT RequestId: {rid}\t")]
        assert start < hello < end < messages.index(report)
        m = REPORT.match(report)
        assert m, repr(report)
        duration, billed = float(m["duration"]), int(m["billed"])
        assert billed == max(1, math.ceil(duration)) or billed == math.ceil(duration) + 1, report
        assert m["memory"] == "128"
        assert 1 <= int(m["used"]) <= 512, report  # measured from the process
        # Init Duration only on the environment's first invocation (a cold start).
        assert (m["init"] is not None) == (i == 0), report
        if i == 0:
            assert float(m["init"]) > 0

    # The exception's log line sits inside its invocation.
    rid = warm_function["ids"][1]
    error = messages.index("[ERROR] ValueError: boom x\n")
    assert messages.index(f"hello from {rid}\n") < error < messages.index(f"END RequestId: {rid}\n")


def test_timeout_logs_the_timeout_line_and_a_new_stream(env, logs):
    name = env.create_function(zip_bytes({"handler.py": HANDLER}), Timeout=1)
    group = f"/aws/lambda/{name}"
    r, body = invoke(env, name, {"sleep": 3})
    assert r["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    rid = r["ResponseMetadata"]["RequestId"]
    # The killed environment is replaced: the next invocation is a cold start in a new stream.
    r2, _ = invoke(env, name, {})
    rid2 = r2["ResponseMetadata"]["RequestId"]
    events = wait_messages(logs, group, "both REPORT lines", lambda ev: count(ev, "REPORT RequestId:") == 2)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 2

    by_stream: dict[str, list[str]] = {}
    for e in events:
        by_stream.setdefault(e["logStreamName"], []).append(e["message"])
    [first] = [m for m in by_stream.values() if f"START RequestId: {rid} Version: $LATEST\n" in m]
    assert "sleeping 3\n" in first
    report = next(m for m in first if m.startswith("REPORT"))
    timed_out = next(m for m in first if "Task timed out" in m)
    assert TIMED_OUT.match(timed_out) and TIMED_OUT.match(timed_out)["id"] == rid, timed_out
    assert first.index(report) < first.index(timed_out)  # after REPORT, as on Lambda
    parsed = REPORT.match(report)
    assert parsed and 1000 <= float(parsed["duration"]) < 2500, report
    [second] = [m for m in by_stream.values() if f"START RequestId: {rid2} Version: $LATEST\n" in m]
    assert REPORT.match(next(m for m in second if m.startswith("REPORT")))["init"] is not None


def test_log_tail_still_works(env):
    name = env.create_function(zip_bytes({"handler.py": HANDLER}))
    r = env.c.lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    tail = base64.b64decode(r["LogResult"]).decode()
    rid = r["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {rid}" in tail and f"hello from {rid}" in tail
    assert re.search(rf"^REPORT RequestId: {rid}\t.*\tInit Duration: ", tail, re.M), tail


def test_filter_log_events_with_terms(warm_function, aws, logs):
    group, ids = warm_function["group"], warm_function["ids"]
    stream = warm_function["events"][0]["logStreamName"]

    def messages(pattern, *extra):
        out = aws("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", pattern, *extra)
        for e in out["events"]:
            assert re.fullmatch(r"\d{56}", e["eventId"]), e
            assert e["logStreamName"] == stream
            assert e["ingestionTime"] >= e["timestamp"]
        return [e["message"] for e in out["events"]]

    assert messages('"[ERROR]" ValueError') == ["[ERROR] ValueError: boom x\n"]
    assert len(messages("ValueError")) == 2  # the error and its traceback's raise line
    assert messages("valueerror") == []  # case-sensitive
    assert len(messages("REPORT")) == 3
    assert len(messages("REPORT Init")) == 1  # all terms must occur
    assert len(messages("REPORT -Init")) == 2  # exclusion
    assert len(messages("?START ?END")) == 6  # either term
    assert messages(f'"hello from {ids[2]}"') == [f"hello from {ids[2]}\n"]  # a quoted phrase
    assert len(messages(f'"{ids[0]}"')) == 4  # START, hello, END, REPORT of one invocation
    # All events come back in time order with the same ids on every call.
    everything = aws("logs", "filter-log-events", "--log-group-name", group)["events"]
    again = group_events(logs, group)
    assert [e["eventId"] for e in everything] == [e["eventId"] for e in again[: len(everything)]]
    assert [e["timestamp"] for e in everything] == sorted(e["timestamp"] for e in everything)
    # Stream selection and time windows.
    assert len(messages("REPORT", "--log-stream-names", stream)) == 3
    assert messages("REPORT", "--log-stream-names", "no-such-stream") == []
    assert len(messages("REPORT", "--log-stream-name-prefix", stream[:11])) == 3
    first_ts = everything[0]["timestamp"]
    assert messages("", "--start-time", "0", "--end-time", str(first_ts - 1)) == []

    code, _, msg = error_of(pytest.raises(ClientError, logs.filter_log_events, logGroupName=group,
                                          filterPattern='"unterminated').value)  # fmt: skip
    assert code == "InvalidParameterException", msg


def test_filter_log_events_pages(warm_function, logs):
    group = warm_function["group"]
    everything = group_events(logs, group)
    seen, token, pages = [], None, 0
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=group, limit=3, **kw)
        assert len(page["events"]) <= 3
        seen += page["events"]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert [e["eventId"] for e in seen] == [e["eventId"] for e in everything[: len(seen)]]
    assert len(seen) >= len(warm_function["events"]) and pages >= len(seen) // 3
    # Newest first.
    newest = logs.filter_log_events(logGroupName=group, startFromHead=False, startTime=1_704_067_200_000, limit=2)
    assert [e["eventId"] for e in newest["events"]] == [e["eventId"] for e in reversed(seen[-2:])]


def test_get_log_events_tokens(logs, env):
    group, stream = unique("/app/paging"), "s1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(env.clock() * 1000)
    sent = [{"timestamp": now - 1000 + i * 10, "message": f"event {i}"} for i in range(7)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=sent)
    expected = [e["message"] for e in sent]

    # Forward from the head, two at a time, until the token comes back unchanged.
    r = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=2)
    assert re.fullmatch(r"f/\d{56}", r["nextForwardToken"]) and re.fullmatch(r"b/\d{56}", r["nextBackwardToken"])
    got = [e["message"] for e in r["events"]]
    token = r["nextForwardToken"]
    while True:
        r = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token, limit=2)
        if r["nextForwardToken"] == token:
            assert r["events"] == []
            break
        got += [e["message"] for e in r["events"]]
        token = r["nextForwardToken"]
    assert got == expected

    # New events show up behind the last forward token.
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": "late"}])
    r = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token)
    assert [e["message"] for e in r["events"]] == ["late"]
    expected.append("late")

    # Default: the latest events; then backwards to the beginning.
    r = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=3)
    assert [e["message"] for e in r["events"]] == expected[-3:]
    back, token = [e["message"] for e in r["events"]], r["nextBackwardToken"]
    while True:
        r = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=token, limit=3)
        if r["nextBackwardToken"] == token:
            assert r["events"] == []
            break
        back = [e["message"] for e in r["events"]] + back
        token = r["nextBackwardToken"]
    assert back == expected

    # Time window: startTime inclusive, endTime exclusive.
    r = logs.get_log_events(
        logGroupName=group, logStreamName=stream, startFromHead=True,
        startTime=sent[2]["timestamp"], endTime=sent[4]["timestamp"],
    )  # fmt: skip
    assert [e["message"] for e in r["events"]] == ["event 2", "event 3"]

    code, _, msg = error_of(
        pytest.raises(ClientError, logs.get_log_events, logGroupName=group, logStreamName=stream,
                      nextToken="f/123").value  # fmt: skip
    )
    assert (code, msg) == ("InvalidParameterException", "The specified nextToken is invalid.")


def test_put_log_events(logs, aws, env):
    group = unique("/app/put")
    aws("logs", "create-log-group", "--log-group-name", group)
    aws("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "one")
    now = int(env.clock() * 1000)
    r = logs.put_log_events(
        logGroupName=group, logStreamName="one",
        logEvents=[
            {"timestamp": now - 15 * 86_400_000, "message": "too old"},
            {"timestamp": now, "message": "fine"},
            {"timestamp": now + 3 * 3_600_000, "message": "too new"},
        ],
    )  # fmt: skip
    assert re.fullmatch(r"\d{56}", r["nextSequenceToken"])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 2}
    out = aws("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", "one")
    assert [(e["timestamp"], e["message"]) for e in out["events"]] == [(now, "fine")]
    assert out["events"][0]["ingestionTime"] >= now

    def put_error(events):
        e = pytest.raises(ClientError, logs.put_log_events, logGroupName=group, logStreamName="one", logEvents=events)
        return error_of(e.value)

    assert put_error([{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}]) == (
        "InvalidParameterException", 400,
        "Log events in a single PutLogEvents request must be in chronological order.",
    )  # fmt: skip
    assert put_error([{"timestamp": now - 86_400_001, "message": "a"}, {"timestamp": now, "message": "b"}]) == (
        "InvalidParameterException", 400,
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
    )  # fmt: skip
    code, status, msg = error_of(
        pytest.raises(ClientError, logs.put_log_events, logGroupName=group, logStreamName="missing",
                      logEvents=[{"timestamp": now, "message": "x"}]).value  # fmt: skip
    )
    assert (code, status, msg) == ("ResourceNotFoundException", 400, "The specified log stream does not exist.")


def test_errors(logs, aws):
    missing = unique("/no/such/group")
    op, msg = aws("logs", "describe-log-streams", "--log-group-name", missing, expect_error="ResourceNotFoundException")
    assert (op, msg) == ("DescribeLogStreams", "The specified log group does not exist.")
    op, msg = aws(
        "logs", "get-log-events", "--log-group-name", missing, "--log-stream-name", "x",
        expect_error="ResourceNotFoundException",
    )  # fmt: skip
    assert msg == "The specified log group does not exist."
    _, msg = aws("logs", "delete-log-group", "--log-group-name", missing, expect_error="ResourceNotFoundException")
    assert msg == "The specified log group does not exist."

    group = unique("/app/errors")
    logs.create_log_group(logGroupName=group)
    _, msg = aws("logs", "create-log-group", "--log-group-name", group, expect_error="ResourceAlreadyExistsException")
    assert msg == "The specified log group already exists"
    _, msg = aws(
        "logs", "get-log-events", "--log-group-name", group, "--log-stream-name", "nope",
        expect_error="ResourceNotFoundException",
    )  # fmt: skip
    assert msg == "The specified log stream does not exist."
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    e = pytest.raises(ClientError, logs.create_log_stream, logGroupName=group, logStreamName="s").value
    assert error_of(e) == ("ResourceAlreadyExistsException", 400, "The specified log stream already exists")

    unchecked = client("logs", logs.meta.endpoint_url, validate=False)
    e = pytest.raises(ClientError, unchecked.create_log_group, logGroupName="bad name!").value
    assert error_of(e) == (
        "InvalidParameterException", 400,
        "1 validation error detected: Value 'bad name!' at 'logGroupName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
    )  # fmt: skip
    e = pytest.raises(ClientError, unchecked.describe_log_groups, limit=51).value
    assert error_of(e)[0] == "InvalidParameterException"
    e = pytest.raises(
        ClientError, logs.describe_log_streams, logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="s"
    ).value
    assert error_of(e) == ("InvalidParameterException", 400, "Cannot order by LastEventTime with a logStreamNamePrefix.")
    e = pytest.raises(ClientError, unchecked.create_log_stream, logGroupName=group, logStreamName="a:b").value
    assert error_of(e)[0] == "InvalidParameterException"


def test_describe_pages_orders_and_deletes(logs, aws, env):
    base = unique("/app/many")
    groups = [f"{base}/{i}" for i in range(5)]
    for g in groups:
        logs.create_log_group(logGroupName=g)
    # The CLI follows nextToken itself; --page-size makes it take several pages.
    out = aws("logs", "describe-log-groups", "--log-group-name-prefix", base, "--page-size", "2")
    assert [g["logGroupName"] for g in out["logGroups"]] == groups
    page = logs.describe_log_groups(logGroupNamePrefix=base, limit=2)
    assert [g["logGroupName"] for g in page["logGroups"]] == groups[:2] and page["nextToken"]
    page = logs.describe_log_groups(logGroupNamePrefix=base, limit=3, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in page["logGroups"]] == groups[2:] and "nextToken" not in page
    brief = logs.describe_log_groups(logGroupNamePattern=base.split("/")[-1])["logGroups"]
    assert [sorted(g) for g in brief] == [["arn", "creationTime", "logGroupName"]] * 5

    g = groups[0]
    now = int(env.clock() * 1000)
    for i, name in enumerate(["b", "a", "c"]):
        logs.create_log_stream(logGroupName=g, logStreamName=name)
        # c has the oldest event, a the newest.
        ts = {"a": now, "b": now - 10, "c": now - 20}[name]
        logs.put_log_events(logGroupName=g, logStreamName=name, logEvents=[{"timestamp": ts, "message": name}])
    by_name = aws("logs", "describe-log-streams", "--log-group-name", g)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    desc = logs.describe_log_streams(logGroupName=g, descending=True, limit=2)
    assert [s["logStreamName"] for s in desc["logStreams"]] == ["c", "b"]
    rest = logs.describe_log_streams(logGroupName=g, descending=True, limit=2, nextToken=desc["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["a"] and "nextToken" not in rest
    by_time = logs.describe_log_streams(logGroupName=g, orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["a", "b", "c"]
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{g}"
    assert len(logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]) == 3

    # Deleting a stream drops its events; one created again under the same name starts empty.
    aws("logs", "delete-log-stream", "--log-group-name", g, "--log-stream-name", "b")
    assert [e["message"] for e in group_events(logs, g)] == ["c", "a"]
    logs.create_log_stream(logGroupName=g, logStreamName="b")
    assert logs.get_log_events(logGroupName=g, logStreamName="b")["events"] == []
    # storedBytes follows once the background cleanup has removed b's events (on AWS too it
    # is not updated in real time).
    wait_for(
        lambda: logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["storedBytes"] == 2,
        "storedBytes of 'c' and 'a' only",
    )

    aws("logs", "delete-log-group", "--log-group-name", g)
    assert logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"] == []
    e = pytest.raises(ClientError, logs.get_log_events, logGroupName=g, logStreamName="a").value
    assert error_of(e)[2] == "The specified log group does not exist."
    logs.create_log_group(logGroupName=g)
    assert logs.describe_log_streams(logGroupName=g)["logStreams"] == []


def test_large_deletes_are_immediate_and_cleared_in_the_background(logs, env):
    """DeleteLogStream and DeleteLogGroup answer at once however many events there are: the
    events disappear for readers immediately and are removed in bounded steps afterwards."""
    g = unique("/app/bulk")
    logs.create_log_group(logGroupName=g)
    logs.create_log_stream(logGroupName=g, logStreamName="big")
    logs.create_log_stream(logGroupName=g, logStreamName="keep")
    now = int(env.clock() * 1000)
    for part in range(3):
        logs.put_log_events(
            logGroupName=g, logStreamName="big",
            logEvents=[{"timestamp": now - 30_000 + part * 10_000 + i // 10, "message": f"big {part} {i}"}
                       for i in range(10_000)],
        )  # fmt: skip
    logs.put_log_events(logGroupName=g, logStreamName="keep", logEvents=[{"timestamp": now, "message": "kept"}])
    big_bytes = sum(len(f"big {p} {i}") for p in range(3) for i in range(10_000))
    [desc] = logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"]
    assert desc["storedBytes"] == big_bytes + 4

    logs.delete_log_stream(logGroupName=g, logStreamName="big")
    assert [e["message"] for e in group_events(logs, g)] == ["kept"]
    e = pytest.raises(ClientError, logs.get_log_events, logGroupName=g, logStreamName="big").value
    assert error_of(e)[:2] == ("ResourceNotFoundException", 400)
    logs.create_log_stream(logGroupName=g, logStreamName="big")
    assert logs.get_log_events(logGroupName=g, logStreamName="big")["events"] == []
    wait_for(
        lambda: logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["storedBytes"] == 4,
        "the deleted stream's 30 000 events removed",
    )

    # The group again, with its events: a group created under the same name right after
    # starts empty, and the old one's cleanup never touches it.
    logs.put_log_events(
        logGroupName=g, logStreamName="big",
        logEvents=[{"timestamp": now + 1 + i // 10, "message": f"again {i}"} for i in range(10_000)],
    )  # fmt: skip
    logs.delete_log_group(logGroupName=g)
    logs.create_log_group(logGroupName=g)
    assert logs.describe_log_streams(logGroupName=g)["logStreams"] == []
    assert group_events(logs, g) == []
    logs.create_log_stream(logGroupName=g, logStreamName="big")
    logs.put_log_events(logGroupName=g, logStreamName="big", logEvents=[{"timestamp": now, "message": "new"}])
    # Whatever the old group's background removal has reached, the new one shows only its own.
    assert [e["message"] for e in group_events(logs, g)] == ["new"]
    assert logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"][0]["storedBytes"] == 3


def test_tags(logs):
    group = unique("/app/tags")
    logs.create_log_group(logGroupName=group, tags={"team": "a"})
    logs.tag_log_group(logGroupName=group, tags={"env": "dev"})
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"team": "a", "env": "dev"}
    logs.untag_log_group(logGroupName=group, tags=["team"])
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev"}


def test_server_default_retention(tmp_path):
    """`--log-retention-days` applies to groups without a policy of their own."""
    srv = Tributary(tmp_path / "data", tmp_path / "server.log", extra_args=["--log-retention-days", "1"])
    srv.start()
    try:
        logs = client("logs", srv.endpoint)
        env = Env(srv, Clients(srv.endpoint), tmp_path)
        logs.create_log_group(logGroupName="/default/retention")
        logs.create_log_stream(logGroupName="/default/retention", logStreamName="s")
        now = int(env.clock() * 1000)
        logs.put_log_events(
            logGroupName="/default/retention", logStreamName="s",
            logEvents=[{"timestamp": now - 3_600_000, "message": "older"}, {"timestamp": now, "message": "newer"}],
        )  # fmt: skip
        [g] = logs.describe_log_groups(logGroupNamePrefix="/default/")["logGroups"]
        assert g["retentionInDays"] == 1
        env.advance_clock(23.5 * 3600)
        assert [e["message"] for e in group_events(logs, "/default/retention")] == ["newer"]
        logs.put_retention_policy(logGroupName="/default/retention", retentionInDays=3)
        env.advance_clock(86400)
        assert [e["message"] for e in group_events(logs, "/default/retention")] == ["newer"]
    finally:
        srv.stop_cleanly()


def test_retention_on_the_server_clock(logs, aws, env):
    """Runs last: it moves the server clock forward by days."""
    group = unique("/app/retention")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    e = pytest.raises(ClientError, logs.put_retention_policy, logGroupName=group, retentionInDays=2).value
    assert error_of(e) == (
        "InvalidParameterException", 400,
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: Member must "
        "satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
        "2192, 2557, 2922, 3288, 3653]",
    )  # fmt: skip
    aws("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "1")
    [g] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert g["retentionInDays"] == 1

    now = int(env.clock() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": now - 3_600_000, "message": "older"}, {"timestamp": now, "message": "newer"}],
    )  # fmt: skip
    assert [e["message"] for e in group_events(logs, group)] == ["older", "newer"]
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] == 10

    # 23.5 hours later the older event is past one day; the newer one is not.
    env.advance_clock(23.5 * 3600)
    assert [e["message"] for e in group_events(logs, group)] == ["newer"]
    r = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in r["events"]] == ["newer"]
    # The sweeper really deletes it.
    wait_for(
        lambda: logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] == 5,
        "the expired event deleted",
    )
    # Without a policy nothing expires (the server default is forever).
    aws("logs", "delete-retention-policy", "--log-group-name", group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    env.advance_clock(400 * 86400)
    assert [e["message"] for e in group_events(logs, group)] == ["newer"]
