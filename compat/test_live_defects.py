"""Regression tests for defects found under load and faults (issue 12): readers of the
catalog under a busy writer, idempotent transactions under concurrency, and a shutdown that
must end while a function hangs. Each drives the real binary; none of them sleeps to wait for
the server."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from harness import REGION, ROLE, Clients, Tributary, unique, wait_for, zip_bytes

NOOP_PY = """\
def handler(event, context):
    return None
"""

HANG_PY = """\
import os
import time


def handler(event, context):
    open(os.environ["STARTED_FILE"], "w").close()
    time.sleep(500)
"""


def get_json(url: str, timeout: float, method: str = "GET") -> dict:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def get_text(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def create_table(c: Clients) -> dict:
    name = unique("load")
    c.ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return c.ddb.describe_table(TableName=name)["Table"]


def write_backlog(c: Clients, table: str, start: int, n: int, threads: int = 4) -> None:
    """n items in BatchWriteItem calls of 25 from several threads."""

    def chunk(lo: int) -> None:
        items = [
            {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"S": "x" * 40}}}}
            for i in range(lo, min(lo + 25, start + n))
        ]
        pending = {table: items}
        while pending:
            pending = c.ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or None

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(chunk, range(start, start + n, 25)))


@pytest.mark.parametrize("storage", ["in-memory", "on-disk"])
def test_drain_status_and_metrics_polled_while_four_shards_catch_up(tmp_path, storage):
    """A backlog over four shards drains under BatchSize 100 while the drain, shards, status and
    /metrics endpoints are polled from several threads; every poll must be answered (a watchdog
    fails the test on the first one that is not), round after round."""
    extra = ["--stream-shards", "4"] + (["--in-memory"] if storage == "in-memory" else [])
    srv = Tributary(data_dir=tmp_path / "data", log_path=tmp_path / "tributary.log", extra_args=extra)
    srv.start()
    try:
        c = Clients(srv.endpoint)
        table = create_table(c)
        fn = unique("noop")
        c.lam.create_function(
            FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
            Code={"ZipFile": zip_bytes({"handler.py": NOOP_PY})},
        )  # fmt: skip
        wait_for(lambda: c.lam.get_function(FunctionName=fn)["Configuration"]["State"] == "Active", "function Active")
        esm = c.lam.create_event_source_mapping(
            FunctionName=fn, EventSourceArn=table["LatestStreamArn"], StartingPosition="TRIM_HORIZON",
            BatchSize=100, Enabled=False,
        )  # fmt: skip
        uuid_ = esm["UUID"]
        base = srv.endpoint
        stop = threading.Event()
        stalls: list[str] = []

        def poll(what: str, call) -> None:
            while not stop.is_set():
                try:
                    call()
                except (OSError, urllib.error.URLError) as e:  # a timeout is an OSError
                    stalls.append(f"{what}: {e!r}")
                    stop.set()

        pollers = [
            ("drain", lambda: get_json(f"{base}/_tributary/event-source-mappings/{uuid_}/drain?timeout=0.2", 10, "POST")),
            ("shards", lambda: get_json(f"{base}/_tributary/event-source-mappings/{uuid_}/shards", 10)),
            ("status", lambda: get_json(f"{base}/_tributary/status", 10)),
            ("metrics", lambda: get_text(f"{base}/metrics", 10)),
        ]
        rounds, per_round = 3, 20_000
        for r in range(rounds):
            write_backlog(c, table["TableName"], r * per_round, per_round)
            if r == 0:
                c.lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
            stop.clear()
            threads = [threading.Thread(target=poll, args=p, daemon=True) for p in pollers]
            for t in threads:
                t.start()
            try:
                deadline = time.monotonic() + 120
                while not stop.is_set():
                    out = get_json(f"{base}/_tributary/event-source-mappings/{uuid_}/drain?timeout=5", 15, "POST")
                    if out["Drained"]:
                        break
                    assert time.monotonic() < deadline, f"round {r}: not drained after 120 s: {out}"
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=30)
            assert not stalls, f"round {r}: the server stopped answering: {stalls}\n{srv.log_tail()}"
            assert srv.health() is not None, srv.log_tail()
        shards = get_json(f"{base}/_tributary/event-source-mappings/{uuid_}/shards", 10)["Shards"]
        assert len(shards) == 4, shards
    finally:
        srv.stop_cleanly()


def test_concurrent_transactions_with_one_token_apply_once(env):
    """Four TransactWriteItems with one ClientRequestToken, sent at once: the increment is
    applied once, every call succeeds, and a different request under the token is refused."""
    table = env.create_table(view_type=None)
    name = table["TableName"]
    token = unique("tok")
    request = dict(
        ClientRequestToken=token,
        TransactItems=[{
            "Update": {
                "TableName": name, "Key": {"pk": {"S": "counter"}},
                "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }],
    )  # fmt: skip
    barrier = threading.Barrier(4)

    def call(_):
        barrier.wait()
        return env.c.ddb.transact_write_items(**request)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, range(4)))
    assert all(r["ResponseMetadata"]["HTTPStatusCode"] == 200 for r in results)
    item = env.c.ddb.get_item(TableName=name, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "1"}

    env.c.ddb.transact_write_items(**request)  # the same request again: no effect
    item = env.c.ddb.get_item(TableName=name, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "1"}

    other = json.loads(json.dumps(request))
    other["TransactItems"][0]["Update"]["ExpressionAttributeValues"][":one"] = {"N": "2"}
    with pytest.raises(env.c.ddb.exceptions.ClientError) as e:
        env.c.ddb.transact_write_items(**other)
    assert e.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # Ten minutes later the token is forgotten and the request applies again.
    env.advance_clock(601)
    env.c.ddb.transact_write_items(**request)
    item = env.c.ddb.get_item(TableName=name, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "2"}


def test_sigterm_with_a_hung_invocation_exits_within_the_grace(tmp_path):
    """A RequestResponse invoke of a function that sleeps 500 s must not hold shutdown up:
    after `--shutdown-grace` the invocation is aborted, the process stopped, and the server
    exits 0."""
    grace = 2.0
    srv = Tributary(
        data_dir=tmp_path / "data", log_path=tmp_path / "tributary.log",
        extra_args=["--shutdown-grace", f"{int(grace * 1000)}ms"],
    )  # fmt: skip
    srv.start()
    c = Clients(srv.endpoint)
    started = tmp_path / "started"
    fn = unique("hang")
    c.lam.create_function(
        FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Timeout=600,
        Code={"ZipFile": zip_bytes({"handler.py": HANG_PY})},
        Environment={"Variables": {"STARTED_FILE": str(started)}},
    )  # fmt: skip
    wait_for(lambda: c.lam.get_function(FunctionName=fn)["Configuration"]["State"] == "Active", "function Active")

    def invoke():
        url = f"{srv.endpoint}/2015-03-31/functions/{fn}/invocations"
        signed = AWSRequest(method="POST", url=url, data=b"{}")
        SigV4Auth(Credentials("test", "test"), "lambda", REGION).add_auth(signed)
        req = urllib.request.Request(url, data=b"{}", method="POST", headers=dict(signed.headers.items()))
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status
        except (OSError, urllib.error.URLError) as e:
            return e

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(invoke)
        wait_for(started.exists, "the function to start", timeout=30)
        proc = srv.proc
        assert proc is not None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=grace + 5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"still running {grace + 5} s after SIGTERM:\n{srv.log_tail()}")
        finally:
            srv.proc = None
        took = time.monotonic() - t0
        assert rc == 0, f"exit code {rc}:\n{srv.log_tail()}"
        assert took >= grace * 0.9, f"exited after {took:.2f} s, before the grace of {grace} s"
        pending.result(timeout=30)  # the client is answered or disconnected, not left hanging
