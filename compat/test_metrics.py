"""What the pipeline did, as users see it (spec §5): Lambda's CloudWatch metrics after a known
workload (exact event counts per mapping with MetricsConfig EventCount, function Invocations
and Errors), IteratorAge rising while a function is throttled and falling after, the CloudWatch
API through boto3, the AWS CLI and the query protocol, `/metrics`, `tributary status` and
`tributary logs`, and the dashboard in headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from harness import ACCOUNT, REGION, TRIBUTARY_BIN, client, error_of, unique, wait_for, zip_bytes

# Fails every batch holding a record whose item has kind = "bad"; logs what it got.
KIND_PY = """\
def handler(event, context):
    kinds = [r["dynamodb"].get("NewImage", {}).get("kind", {}).get("S") for r in event.get("Records", [])]
    print("kinds", kinds)
    if "bad" in kinds:
        raise ValueError("bad record")
    return {}
"""

FILTER = {"Filters": [{"Pattern": json.dumps({"dynamodb": {"NewImage": {"kind": {"S": ["good", "bad"]}}}})}]}
# 3 good and 2 bad records pass the filter; 2 "skip" records do not.
WORKLOAD = ["good", "bad", "skip", "good", "bad", "skip", "good"]


def utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)


def drain(env, uuid: str, timeout: float = 60) -> None:
    req = urllib.request.Request(
        f"{env.server.endpoint}/_tributary/event-source-mappings/{uuid}/drain?timeout={timeout}", method="POST", data=b""
    )
    with urllib.request.urlopen(req, timeout=timeout + 10) as r:
        out = json.loads(r.read())
    assert out["Drained"], out


def get_json(env, path: str):
    with urllib.request.urlopen(env.server.endpoint + path, timeout=30) as r:
        return json.loads(r.read())


def cloudwatch(env):
    return client("cloudwatch", env.server.endpoint)


def datapoints(env, metric: str, dims: dict[str, str], stats=("Sum",), minutes: int = 30) -> list[dict]:
    now = env.clock()
    out = cloudwatch(env).get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=utc(now - minutes * 60),
        EndTime=utc(now + 120),
        Period=60,
        Statistics=list(stats),
    )
    assert out["Label"] == metric
    return sorted(out["Datapoints"], key=lambda d: d["Timestamp"])


def total(env, metric: str, dims: dict[str, str]) -> float | None:
    """The Sum over the last half hour; None when the metric was never published."""
    points = datapoints(env, metric, dims)
    return sum(p["Sum"] for p in points) if points else None


def kind_fn(env) -> str:
    return env.create_function(zip_bytes({"handler.py": KIND_PY}))


def put_workload(env, table: str) -> None:
    for i, kind in enumerate(WORKLOAD):
        env.c.ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "kind": {"S": kind}})


@pytest.fixture(scope="module")
def workload(server, clients, tmp_path_factory):
    """One table, three mappings with EventCount metrics on its stream (no destination, an SQS
    queue, a queue that does not exist yet), each with its own failing function; the workload is
    written once and drained. The third mapping's shard holds at its first failure record until
    the queue exists, and then delivers both."""
    from harness import Env

    env = Env(server, clients, tmp_path_factory.mktemp("workload"))
    table = env.create_table()
    sqs = client("sqs", server.endpoint)
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    missing_name = unique("later")
    missing_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{missing_name}"
    mappings = {}
    for name, dest in [("plain", None), ("queue", queue_arn), ("missing", missing_arn)]:
        fn = kind_fn(env)
        kw = {"DestinationConfig": {"OnFailure": {"Destination": dest}}} if dest else {}
        esm = env.create_mapping(
            fn, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=1, FilterCriteria=FILTER,
            MetricsConfig={"Metrics": ["EventCount"]}, **kw,
        )  # fmt: skip
        assert esm["MetricsConfig"] == {"Metrics": ["EventCount"]}
        mappings[name] = (fn, esm["UUID"])
    put_workload(env, table["TableName"])
    drain(env, mappings["plain"][1])
    drain(env, mappings["queue"][1])

    # The missing queue refuses: the shard holds and counts the refused tries, until the queue
    # exists; then both failure records arrive and nothing is dropped.
    def counters(uuid):
        status = get_json(env, "/_tributary/status")
        return next(m for m in status["EventSourceMappings"] if m["UUID"] == uuid)["Counters"]

    wait_for(lambda: counters(mappings["missing"][1])["DestinationDeliveryFailures"] >= 1, "a refused delivery")
    assert counters(mappings["missing"][1])["OnFailureDestinationDeliveredEvents"] == 0
    late_url = sqs.create_queue(QueueName=missing_name)["QueueUrl"]
    drain(env, mappings["missing"][1])
    return {"table": table, "mappings": mappings, "queue_url": url, "late_queue_url": late_url}


# --------------------------------------------------------------------------------------------
# exact counts


def test_event_counts_are_exact_after_a_known_workload(env, workload):
    for name, (fn, uuid) in workload["mappings"].items():
        esm = {"EventSourceMappingUUID": uuid}
        # Every record is read; the two "skip" ones are filtered out.
        assert total(env, "PolledEventCount", esm) == 7, name
        assert total(env, "FilteredOutEventCount", esm) == 2, name
        # 3 good records once, 2 bad records twice (MaximumRetryAttempts 1); retries count again.
        assert total(env, "InvokedEventCount", esm) == 7, name
        assert total(env, "FailedInvokeEventCount", esm) == 4, name
        assert total(env, "Invocations", {"FunctionName": fn}) == 7, name
        assert total(env, "Errors", {"FunctionName": fn}) == 4, name
        assert total(env, "Throttles", {"FunctionName": fn}) is None, name
    fn, uuid = workload["mappings"]["plain"]
    assert total(env, "DroppedEventCount", {"EventSourceMappingUUID": uuid}) == 2
    assert total(env, "OnFailureDestinationDeliveredEventCount", {"EventSourceMappingUUID": uuid}) is None
    # Records delivered to the destination are not dropped.
    fn, uuid = workload["mappings"]["queue"]
    assert total(env, "OnFailureDestinationDeliveredEventCount", {"EventSourceMappingUUID": uuid}) == 2
    assert total(env, "DroppedEventCount", {"EventSourceMappingUUID": uuid}) is None
    assert total(env, "DestinationDeliveryFailures", {"FunctionName": fn}) is None
    # Refused deliveries: DestinationDeliveryFailures per refused try; the shard held until the
    # queue existed, so both records were delivered and none dropped.
    fn, uuid = workload["mappings"]["missing"]
    assert total(env, "DestinationDeliveryFailures", {"FunctionName": fn}) >= 1
    assert total(env, "DroppedEventCount", {"EventSourceMappingUUID": uuid}) is None
    assert total(env, "OnFailureDestinationDeliveredEventCount", {"EventSourceMappingUUID": uuid}) == 2


def test_units_statistics_and_duration(env, workload):
    fn, uuid = workload["mappings"]["plain"]
    points = datapoints(env, "Invocations", {"FunctionName": fn}, stats=("Sum", "SampleCount", "Maximum"))
    assert points and all(p["Unit"] == "Count" for p in points)
    assert sum(p["SampleCount"] for p in points) == 7
    assert all(p["Maximum"] == 1.0 for p in points)
    points = datapoints(env, "Duration", {"FunctionName": fn}, stats=("SampleCount", "Minimum", "Maximum", "Average"))
    assert sum(p["SampleCount"] for p in points) == 7
    assert all(p["Unit"] == "Milliseconds" and 0 <= p["Minimum"] <= p["Average"] <= p["Maximum"] for p in points)
    # Errors are published for every invocation (0 or 1), so Average is the error rate.
    points = datapoints(env, "Errors", {"FunctionName": fn}, stats=("SampleCount", "Sum"))
    assert (sum(p["SampleCount"] for p in points), sum(p["Sum"] for p in points)) == (7, 4)
    # A Unit that does not match returns no data, as CloudWatch does.
    now = env.clock()
    out = cloudwatch(env).get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": fn}],
        StartTime=utc(now - 1800), EndTime=utc(now + 120), Period=60, Statistics=["Sum"], Unit="Seconds",
    )  # fmt: skip
    assert out["Datapoints"] == []
    # Percentiles of Duration.
    out = cloudwatch(env).get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Dimensions=[{"Name": "FunctionName", "Value": fn}],
        StartTime=utc(now - 1800), EndTime=utc(now + 120), Period=3600, ExtendedStatistics=["p50", "p100"],
    )  # fmt: skip
    assert len(out["Datapoints"]) == 1
    ext = out["Datapoints"][0]["ExtendedStatistics"]
    assert set(ext) == {"p50", "p100"} and 0 <= ext["p50"] <= ext["p100"]


# --------------------------------------------------------------------------------------------
# IteratorAge under throttling


def test_iterator_age_grows_while_throttled_and_falls_after(env):
    table = env.create_table()
    fn = kind_fn(env)
    env.c.lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    esm = env.create_mapping(fn, table["LatestStreamArn"], BatchSize=10)
    uuid = esm["UUID"]

    def shard_age():
        shards = get_json(env, f"/_tributary/event-source-mappings/{uuid}/shards")["Shards"]
        return max((s["IteratorAgeMillis"] or 0) for s in shards) if shards else 0

    def throttled():
        return env.c.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "PROBLEM: Function call throttled"

    env.c.ddb.put_item(TableName=table["TableName"], Item={"pk": {"S": "stuck"}, "kind": {"S": "good"}})
    wait_for(throttled, "the mapping to be throttled")
    ages = []
    for minute in (1, 2):
        env.advance_clock(60)
        ages.append(wait_for(lambda: (lambda a: a if a >= minute * 60_000 else None)(shard_age()),
                             f"IteratorAge past {minute} minute(s)", timeout=30))  # fmt: skip
    assert ages[1] > ages[0] >= 60_000
    env.c.lam.delete_function_concurrency(FunctionName=fn)
    wait_for(lambda: env.c.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK",
             "the mapping to catch up", timeout=30)  # fmt: skip
    env.c.ddb.put_item(TableName=table["TableName"], Item={"pk": {"S": "fresh"}, "kind": {"S": "good"}})
    drain(env, uuid)

    points = datapoints(env, "IteratorAge", {"EventSourceMappingUUID": uuid}, stats=("Maximum", "Minimum"))
    assert all(p["Unit"] == "Milliseconds" for p in points)
    maxima = [p["Maximum"] for p in points]
    # One minute per clock step: the age climbs while throttled...
    assert maxima[0] < 60_000, maxima
    assert any(60_000 <= m < 120_000 for m in maxima) and max(maxima) >= 120_000, maxima
    peak = maxima.index(max(maxima))
    assert maxima[: peak + 1] == sorted(maxima[: peak + 1]), maxima
    # ...and the fresh record, sent right away, is young again.
    assert points[-1]["Minimum"] < 5_000, points
    # The same series under the function's name, and the throttles.
    by_fn = datapoints(env, "IteratorAge", {"FunctionName": fn}, stats=("Maximum",))
    assert max(p["Maximum"] for p in by_fn) == max(maxima)
    assert total(env, "Throttles", {"FunctionName": fn}) >= 2
    # No EventCount metrics without MetricsConfig.
    assert total(env, "PolledEventCount", {"EventSourceMappingUUID": uuid}) is None


# --------------------------------------------------------------------------------------------
# the CloudWatch API


def test_get_metric_data(env, workload):
    fn, uuid = workload["mappings"]["plain"]
    now = env.clock()
    cw = cloudwatch(env)
    metric = lambda name, dims: {"Namespace": "AWS/Lambda", "MetricName": name,  # noqa: E731
                                 "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}  # fmt: skip
    out = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "invoked", "MetricStat": {"Metric": metric("InvokedEventCount", {"EventSourceMappingUUID": uuid}),
                                             "Period": 60, "Stat": "Sum"}},
            {"Id": "errors", "Label": "my errors", "MetricStat": {"Metric": metric("Errors", {"FunctionName": fn}),
                                                                   "Period": 300, "Stat": "Sum"}},
            {"Id": "hidden", "ReturnData": False,
             "MetricStat": {"Metric": metric("Errors", {"FunctionName": fn}), "Period": 60, "Stat": "Sum"}},
        ],
        StartTime=utc(now - 1800), EndTime=utc(now + 120), ScanBy="TimestampAscending",
    )  # fmt: skip
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(results) == {"invoked", "errors"}
    assert results["invoked"]["Label"] == "InvokedEventCount"
    assert results["errors"]["Label"] == "my errors"
    assert sum(results["invoked"]["Values"]) == 7
    assert sum(results["errors"]["Values"]) == 4
    assert all(r["StatusCode"] == "Complete" for r in results.values())
    stamps = results["invoked"]["Timestamps"]
    assert stamps == sorted(stamps) and len(stamps) == len(results["invoked"]["Values"])

    # Pagination: one datapoint per page.
    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = cw.get_metric_data(
            MetricDataQueries=[{"Id": "e", "MetricStat": {"Metric": metric("Invocations", {}), "Period": 60,
                                                          "Stat": "SampleCount"}}],
            StartTime=utc(now - 1800), EndTime=utc(now + 120), MaxDatapoints=1, **kw,
        )  # fmt: skip
        pages.append(page["MetricDataResults"][0])
        token = page.get("NextToken")
        if not token:
            break
        assert pages[-1]["StatusCode"] == "PartialData"
    assert all(len(p["Values"]) <= 1 for p in pages)
    assert sum(v for p in pages for v in p["Values"]) >= 21

    with pytest.raises(ClientError) as e:
        cw.get_metric_data(
            MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": metric("Errors", {}), "Period": 60,
                                                          "Stat": "Bogus"}}],
            StartTime=utc(now - 600), EndTime=utc(now),
        )  # fmt: skip
    code, status, msg = error_of(e.value)
    assert (code, status) == ("ValidationError", 400)
    assert msg == "The value Bogus for parameter MetricDataQueries.member.1.MetricStat.Stat is not a valid statistic."


def test_list_metrics_filters(env, workload):
    fn, uuid = workload["mappings"]["plain"]
    cw = cloudwatch(env)
    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "EventSourceMappingUUID", "Value": uuid}])
    names = {m["MetricName"] for m in listed["Metrics"]}
    assert names == {"PolledEventCount", "FilteredOutEventCount", "InvokedEventCount", "FailedInvokeEventCount",
                     "DroppedEventCount", "IteratorAge"}  # fmt: skip
    assert all(m["Dimensions"] == [{"Name": "EventSourceMappingUUID", "Value": uuid}] for m in listed["Metrics"])
    # A dimension name alone matches metrics that also have other dimensions.
    listed = cw.list_metrics(MetricName="Invocations", Dimensions=[{"Name": "FunctionName", "Value": fn}])
    assert [m["Dimensions"] for m in listed["Metrics"]] == [[{"Name": "FunctionName", "Value": fn}]]
    listed = cw.list_metrics(MetricName="Invocations", Dimensions=[{"Name": "FunctionName"}], RecentlyActive="PT3H")
    fns = {m["Dimensions"][0]["Value"] for m in listed["Metrics"]}
    assert {f for f, _ in workload["mappings"].values()} <= fns
    assert cw.list_metrics(Namespace="AWS/EC2")["Metrics"] == []
    # The paginator follows NextToken.
    all_metrics = [m for p in cw.get_paginator("list_metrics").paginate(Namespace="AWS/Lambda") for m in p["Metrics"]]
    assert len(all_metrics) == len({json.dumps(m, sort_keys=True) for m in all_metrics}) > 20


def test_get_metric_statistics_errors(env, workload):
    cw = cloudwatch(env)
    now = env.clock()
    base = dict(Namespace="AWS/Lambda", MetricName="Invocations", StartTime=utc(now - 600), EndTime=utc(now))
    cases = [
        (dict(base, Period=60), "InvalidParameterCombination",
         "Must specify either Statistics or ExtendedStatistics, but not both."),
        (dict(base, Period=60, Statistics=["Sum"], ExtendedStatistics=["p99"]), "InvalidParameterCombination",
         "Must specify either Statistics or ExtendedStatistics, but not both."),
        (dict(base, Period=61, Statistics=["Sum"]), "InvalidParameterValue", "The parameter Period must be a multiple of 60."),
        (dict(base, Period=60, Statistics=["Total"]), "InvalidParameterValue",
         "The parameter Statistics.member.1 must be a value in the set [SampleCount, Average, Sum, Minimum, Maximum]."),
        (dict(base, StartTime=utc(now), EndTime=utc(now - 60), Period=60, Statistics=["Sum"]), "InvalidParameterValue",
         "The parameter StartTime must be less than the parameter EndTime."),
        (dict(base, StartTime=utc(now - 86400 - 60), EndTime=utc(now), Period=60, Statistics=["Sum"]),
         "InvalidParameterCombination",
         "You have requested up to 1,441 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints "
         "requested by increasing Period, or decreasing the time range."),
    ]  # fmt: skip
    for kwargs, code, message in cases:
        kwargs = dict(kwargs)
        if code == "InvalidParameterCombination" and "1,441" in message:
            # Land on a minute so the rounded start does not add a datapoint.
            start = (int(now) // 60) * 60 - 86400 - 60
            kwargs.update(StartTime=utc(start), EndTime=utc(start + 86400 + 60))
        with pytest.raises(ClientError) as e:
            cw.get_metric_statistics(**kwargs)
        assert error_of(e.value) == (code, 400, message), kwargs


def test_aws_cli_get_metric_statistics(env, workload, aws):
    fn, uuid = workload["mappings"]["plain"]
    now = env.clock()
    iso = lambda t: utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    out = aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", "InvokedEventCount",
        "--dimensions", f"Name=EventSourceMappingUUID,Value={uuid}",
        "--start-time", iso(now - 1800), "--end-time", iso(now + 120), "--period", "3600", "--statistics", "Sum",
    )  # fmt: skip
    assert out["Label"] == "InvokedEventCount"
    assert [(p["Sum"], p["Unit"]) for p in out["Datapoints"]] == [(7.0, "Count")]
    out = aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", "IteratorAge",
        "--dimensions", f"Name=FunctionName,Value={fn}",
        "--start-time", iso(now - 1800), "--end-time", iso(now + 120), "--period", "60", "--statistics", "Maximum",
    )  # fmt: skip
    assert out["Datapoints"] and all(p["Unit"] == "Milliseconds" for p in out["Datapoints"])
    op, msg = aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", "IteratorAge",
        "--start-time", iso(now - 600), "--end-time", iso(now), "--period", "90", "--statistics", "Maximum",
        expect_error="InvalidParameterValue",
    )  # fmt: skip
    assert (op, msg) == ("GetMetricStatistics", "The parameter Period must be a multiple of 60.")
    listed = aws("cloudwatch", "list-metrics", "--namespace", "AWS/Lambda", "--metric-name", "Errors",
                 "--dimensions", f"Name=FunctionName,Value={fn}")  # fmt: skip
    assert listed["Metrics"] == [
        {"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": fn}]}
    ]


def query_request(env, params: dict[str, str]) -> tuple[int, ET.Element]:
    """A query-protocol call, as older SDKs make it: a signed form POST, XML back."""
    body = urllib.parse.urlencode({"Version": "2010-08-01", **params}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    req = AWSRequest(method="POST", url=env.server.endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), "monitoring", REGION).add_auth(req)
    prepared = req.prepare()
    http_req = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http_req, timeout=30) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


NS = {"cw": "http://monitoring.amazonaws.com/doc/2010-08-01/"}


def test_query_protocol(env, workload):
    fn, uuid = workload["mappings"]["plain"]
    now = env.clock()
    iso = lambda t: utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    status, doc = query_request(env, {
        "Action": "GetMetricStatistics", "Namespace": "AWS/Lambda", "MetricName": "Invocations",
        "Dimensions.member.1.Name": "FunctionName", "Dimensions.member.1.Value": fn,
        "StartTime": iso(now - 1800), "EndTime": iso(now + 120), "Period": "3600",
        "Statistics.member.1": "Sum", "Statistics.member.2": "SampleCount",
    })  # fmt: skip
    assert status == 200
    assert doc.tag == "{%s}GetMetricStatisticsResponse" % NS["cw"]
    members = doc.findall("cw:GetMetricStatisticsResult/cw:Datapoints/cw:member", NS)
    assert len(members) == 1
    assert members[0].findtext("cw:Sum", namespaces=NS) == "7.0"
    assert members[0].findtext("cw:Unit", namespaces=NS) == "Count"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00(\.000)?Z$", members[0].findtext("cw:Timestamp", namespaces=NS))
    assert doc.findtext("cw:GetMetricStatisticsResult/cw:Label", namespaces=NS) == "Invocations"
    assert doc.findtext("cw:ResponseMetadata/cw:RequestId", namespaces=NS)

    status, doc = query_request(env, {
        "Action": "ListMetrics", "Namespace": "AWS/Lambda",
        "Dimensions.member.1.Name": "EventSourceMappingUUID", "Dimensions.member.1.Value": uuid,
        "MetricName": "PolledEventCount",
    })  # fmt: skip
    assert status == 200
    metrics = doc.findall("cw:ListMetricsResult/cw:Metrics/cw:member", NS)
    assert [m.findtext("cw:MetricName", namespaces=NS) for m in metrics] == ["PolledEventCount"]
    assert metrics[0].findtext("cw:Dimensions/cw:member/cw:Value", namespaces=NS) == uuid

    status, doc = query_request(env, {
        "Action": "GetMetricStatistics", "Namespace": "AWS/Lambda", "MetricName": "Invocations",
        "StartTime": iso(now - 600), "EndTime": iso(now), "Period": "60",
    })  # fmt: skip
    assert status == 400
    assert doc.findtext("cw:Error/cw:Type", namespaces=NS) == "Sender"
    assert doc.findtext("cw:Error/cw:Code", namespaces=NS) == "InvalidParameterCombination"


def cbor_cloudwatch(env, tmp_path: Path):
    """A boto3 CloudWatch client that speaks Smithy RPC v2 CBOR (what the newest SDKs prefer;
    the pinned botocore supports it but prefers JSON): the same model, with only that protocol."""
    import gzip

    import boto3
    import botocore
    import botocore.session
    from harness import CLIENT_CONFIG

    src = Path(botocore.__file__).parent / "data" / "cloudwatch" / "2010-08-01"
    model = json.loads(gzip.decompress((src / "service-2.json.gz").read_bytes()))
    model["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    dst = tmp_path / "models" / "cloudwatch" / "2010-08-01"
    dst.mkdir(parents=True)
    (dst / "service-2.json").write_text(json.dumps(model))
    for extra in ("paginators-1.json", "waiters-2.json"):
        if (src / extra).exists():
            shutil.copy(src / extra, dst / extra)
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(tmp_path / "models"))
    return boto3.Session(botocore_session=core).client(
        "cloudwatch", endpoint_url=env.server.endpoint, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test", config=CLIENT_CONFIG,
    )  # fmt: skip


def test_rpc_v2_cbor_protocol(env, workload, tmp_path):
    fn, uuid = workload["mappings"]["plain"]
    cw = cbor_cloudwatch(env, tmp_path)
    now = env.clock()
    seen = []
    cw.meta.events.register("after-call", lambda http_response, **_: seen.append(dict(http_response.headers)))
    out = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="FailedInvokeEventCount",
        Dimensions=[{"Name": "EventSourceMappingUUID", "Value": uuid}],
        StartTime=utc(now - 1800), EndTime=utc(now + 120), Period=3600, Statistics=["Sum"],
    )  # fmt: skip
    headers = {k.lower(): v for k, v in seen[0].items()}
    assert headers["content-type"] == "application/cbor"
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert [(p["Sum"], p["Unit"]) for p in out["Datapoints"]] == [(4.0, "Count")]
    assert isinstance(out["Datapoints"][0]["Timestamp"], dt.datetime)
    out = cw.get_metric_data(
        MetricDataQueries=[{"Id": "f", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": fn}]}, "Period": 60, "Stat": "Sum"}}],
        StartTime=utc(now - 1800), EndTime=utc(now + 120),
    )  # fmt: skip
    result = out["MetricDataResults"][0]
    assert sum(result["Values"]) == 4 and all(isinstance(t, dt.datetime) for t in result["Timestamps"])
    listed = cw.list_metrics(Dimensions=[{"Name": "EventSourceMappingUUID", "Value": uuid}], MetricName="IteratorAge")
    assert [m["MetricName"] for m in listed["Metrics"]] == ["IteratorAge"]
    with pytest.raises(ClientError) as e:
        cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="Errors", StartTime=utc(now - 600), EndTime=utc(now), Period=7,
            Statistics=["Sum"],
        )  # fmt: skip
    assert error_of(e.value) == ("InvalidParameterValue", 400, "The parameter Period must be a multiple of 60.")


# --------------------------------------------------------------------------------------------
# Prometheus, status, logs


def test_prometheus_exposition(env, workload):
    fn, uuid = workload["mappings"]["plain"]
    with urllib.request.urlopen(env.server.endpoint + "/metrics", timeout=30) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    labels = f'function="{fn}",uuid="{uuid}"'
    assert samples[f"tributary_esm_polled_events_total{{{labels}}}"] == 7
    assert samples[f"tributary_esm_filtered_out_events_total{{{labels}}}"] == 2
    assert samples[f"tributary_esm_invoked_events_total{{{labels}}}"] == 7
    assert samples[f"tributary_esm_failed_invoke_events_total{{{labels}}}"] == 4
    assert samples[f"tributary_esm_dropped_events_total{{{labels}}}"] == 2
    assert samples[f"tributary_esm_enabled{{{labels}}}"] == 1
    assert samples[f'tributary_lambda_invocations_total{{function="{fn}"}}'] == 7
    assert samples[f'tributary_lambda_errors_total{{function="{fn}"}}'] == 4
    assert samples[f'tributary_lambda_duration_milliseconds_count{{function="{fn}"}}'] == 7
    assert samples[f'tributary_lambda_duration_milliseconds_bucket{{function="{fn}",le="+Inf"}}'] == 7
    q_fn, q_uuid = workload["mappings"]["queue"]
    assert samples[f'tributary_esm_destination_delivered_events_total{{function="{q_fn}",uuid="{q_uuid}"}}'] == 2
    # Per-shard lag of the (open, unfinished) shard, labelled by shard.
    lag = [k for k in samples if k.startswith(f"tributary_esm_shard_lag_milliseconds{{{labels},shard=")]
    assert len(lag) == 1 and samples[lag[0]] == 0
    assert samples['tributary_http_requests_total{service="dynamodb",operation="PutItem"}'] >= len(WORKLOAD)
    assert samples["tributary_stream_open_shards"] >= 1
    assert samples["tributary_tables"] >= 1
    # Every family is typed, and no label carries a table or item name.
    assert "# TYPE tributary_esm_iterator_age_milliseconds gauge" in text
    assert "# TYPE tributary_lambda_duration_milliseconds histogram" in text
    assert workload["table"]["TableName"] not in text


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TRIBUTARY_BIN), *args], capture_output=True, text=True, timeout=60)


def test_tributary_status(env, workload):
    fn, uuid = workload["mappings"]["plain"]
    table = workload["table"]["TableName"]
    p = run_cli("status", "--endpoint", env.server.endpoint)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "TABLES" in out and "STREAMS" in out and "FUNCTIONS" in out and "EVENT SOURCE MAPPINGS" in out
    assert re.search(rf"^\s+{re.escape(table)}\s+7\s", out, re.M), out
    assert re.search(rf"^\s+{re.escape(fn)}\s+python3\.12\s+Active\s+0\s+7\s+4\s+0\s", out, re.M), out
    assert f"{uuid}  {table} -> {fn}  Enabled" in out
    assert "7 polled, 2 filtered out, 7 invoked, 4 failed, 2 dropped" in out
    assert "last result: PROBLEM: Function call failed" in out or "last result: OK" in out
    assert re.search(r"^\s+shardId-\d{20}-[0-9a-f]{8}\s+open\s+\d+\s+0 ms\s", out, re.M), out

    p = run_cli("status", "--endpoint", env.server.endpoint, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    m = next(m for m in doc["EventSourceMappings"] if m["UUID"] == uuid)
    assert m["Counters"]["PolledEvents"] == 7 and m["Counters"]["DroppedEvents"] == 2
    assert m["EventCountMetrics"] is True
    assert [f["Kind"] for f in m["RecentFailures"]].count("Discarded") >= 1
    assert any(s["TableName"] == table and s["OpenShards"] >= 1 for s in doc["Streams"])
    assert set(doc) == {"Server", "Tables", "Streams", "Functions", "EventSourceMappings", "Iam"}

    p = run_cli("status", "--endpoint", "http://127.0.0.1:1")
    assert p.returncode != 0 and "cannot reach the server" in p.stderr


def test_tributary_logs(env, workload):
    fn, _ = workload["mappings"]["plain"]
    p = run_cli("logs", fn, "--endpoint", env.server.endpoint, "--since", "1d")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert sum(1 for line in lines if re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z START RequestId: ", line)) == 7
    assert any("kinds ['bad']" in line for line in lines)
    p = run_cli("logs", unique("nobody"), "--endpoint", env.server.endpoint)
    assert p.returncode != 0 and "does not exist" in p.stderr


def test_tributary_logs_follow(env, tmp_path):
    fn = kind_fn(env)
    out = tmp_path / "follow.txt"
    with open(out, "w") as sink:
        proc = subprocess.Popen([str(TRIBUTARY_BIN), "logs", fn, "--follow", "--endpoint", env.server.endpoint],
                                stdout=sink, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            # Not invoked yet: it waits for the log group instead of failing.
            wait_for(lambda: proc.poll() is None and out.exists(), "logs --follow to start")
            for i in range(2):
                env.c.lam.invoke(FunctionName=fn, Payload=json.dumps({"Records": [
                    {"dynamodb": {"NewImage": {"kind": {"S": f"follow-{i}"}}}}]}).encode())  # fmt: skip
                wait_for(lambda: f"kinds ['follow-{i}']" in out.read_text(), f"event {i} to be followed", timeout=20)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    text = out.read_text()
    # Each event once, though the follower asks again from the newest timestamp it has seen.
    assert text.count("kinds ['follow-0']") == 1 and text.count("kinds ['follow-1']") == 1, text
    assert text.count("START RequestId") == 2, text


# --------------------------------------------------------------------------------------------
# the dashboard


def chromium() -> str:
    """Debian's chromium, installed on first use; skips only when it cannot be installed."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and apt-get is not available to install it")
    try:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True, timeout=900, check=True,
                       env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})  # fmt: skip
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"chromium is not installed and could not be installed: {e}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium could not be installed")
    return found


def headless(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    # The flags the machine notes call for: no sandbox as root, and nothing that phones home.
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--virtual-time-budget=4000", "--window-size=1280,1600", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.timeout(1500)  # room to install chromium on a fresh machine
def test_dashboard_renders_and_updates_in_chromium(env, workload, tmp_path):
    browser = chromium()
    url = env.server.endpoint + "/_tributary/"
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.headers["Content-Type"].startswith("text/html")
        page = r.read().decode()
    assert "<script" in page and "http://" not in page.split("<script", 1)[1], "the page loads nothing from outside"

    table = env.create_table()
    fn = kind_fn(env)
    esm = env.create_mapping(fn, table["LatestStreamArn"], BatchSize=1, MaximumRetryAttempts=0)
    uuid = esm["UUID"]
    env.c.ddb.put_item(TableName=table["TableName"], Item={"pk": {"S": "a"}, "kind": {"S": "good"}})
    drain(env, uuid)

    def polled(dom: str) -> int:
        m = re.search(rf'data-uuid="{uuid}".*?data-polled="(\d+)"', dom, re.S)
        assert m, f"mapping {uuid} not on the page:\n{dom[:3000]}"
        return int(m.group(1))

    first = headless(browser, tmp_path / "profile1", "--dump-dom", url)
    assert first.returncode == 0, first.stderr[-2000:]
    dom = first.stdout
    refreshes = int(re.search(r'<body data-refreshes="(\d+)"', dom).group(1))
    assert refreshes >= 1, "the page never loaded /_tributary/status"
    assert polled(dom) == 1
    assert fn in dom and table["TableName"] in dom
    assert "<svg" in dom and "IteratorAge per minute" in dom
    assert re.search(r'<span class="live" id="live">live · updated', dom), "the page did not reach the server"

    # More records: the next look shows them.
    for k in ("b", "c", "d"):
        env.c.ddb.put_item(TableName=table["TableName"], Item={"pk": {"S": k}, "kind": {"S": "bad" if k == "d" else "good"}})
    drain(env, uuid)
    second = headless(browser, tmp_path / "profile2", "--dump-dom", url)
    assert second.returncode == 0, second.stderr[-2000:]
    assert polled(second.stdout) == 4
    assert "bad record" in second.stdout and "Discarded" in second.stdout

    shot = tmp_path / "dashboard.png"
    p = headless(browser, tmp_path / "profile3", f"--screenshot={shot}", url)
    assert p.returncode == 0 and shot.is_file(), p.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank 1280x1600 page compresses to a few KB; tables, text and charts do not.
    assert len(data) > 30_000, len(data)
