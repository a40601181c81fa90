"""Helpers for the end-to-end tests: run the real `tributary` binary, talk to it with boto3 and the
AWS CLI, build function zips, and wait for things by polling against a deadline."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parent.parent
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
TRIBUTARY_BIN = Path(os.environ.get("TRIBUTARY_BIN", TARGET_DIR / "release" / "tributary"))
RUST_ECHO_BIN = TARGET_DIR / "release" / "rust-echo"
VENV_BIN = Path(sys.executable).parent
AWS_CLI = VENV_BIN / "aws"

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-dynamodb-role"

POLL = 0.02  # seconds between polls
DEADLINE = 10.0  # default time allowed for anything asynchronous

HEX32 = re.compile(r"^[0-9a-f]{32}$")
SEQ = re.compile(r"^[0-9]{21,40}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STREAM_LABEL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")
SHARD_ID = re.compile(r"^shardId-\d{20}-[0-9a-f]{8}$")


def unique(prefix: str) -> str:
    """A resource name no other test in the same server uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


# --------------------------------------------------------------------------------------------
# waiting


def wait_for(check: Callable[[], Any], what: str, timeout: float = DEADLINE, interval: float = POLL):
    """Call `check` until it returns something truthy and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tributary:
    """One `tributary serve` process on a data directory; can be restarted on the same one."""

    def __init__(
        self, data_dir: Path, log_path: Path, binary: Path = TRIBUTARY_BIN, extra_args: list[str] | None = None
    ):
        self.binary = binary
        self.extra_args = list(extra_args or [])
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        assert self.proc is None, "already running"
        if not self.binary.is_file():
            raise AssertionError(
                f"{self.binary} does not exist: build it with `cargo build --release -p tributary` "
                "(scripts/test.sh does)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(self.binary), "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", str(self.data_dir),
            "--region", REGION,
            "--account-id", ACCOUNT,
            *self.extra_args,
        ]  # fmt: skip
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts + 1}: {shlex.join(cmd)}\n".encode())
        log.flush()
        # Own process group: if the server fails to stop, the test can still reap it and the
        # function processes it started.
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                raise AssertionError(f"tributary exited with code {rc} while starting:\n{self.log_tail()}")
            health = self.health()
            if health is not None:
                assert health.get("status") == "ready", health
                assert "version" in health, health
                return
            if time.monotonic() >= deadline:
                self.kill()
                raise AssertionError(f"tributary not healthy after {timeout}s:\n{self.log_tail()}")
            time.sleep(POLL)

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_tributary/health", timeout=2) as r:
                if r.status != 200:
                    return None
                return json.loads(r.read())
        except (OSError, ValueError, http.client.HTTPException):
            return None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code (a clean shutdown is 0)."""
        assert self.proc is not None, "not running"
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_group(proc)
            raise AssertionError(f"tributary did not exit within {timeout}s of SIGTERM:\n{self.log_tail()}")
        return rc

    def stop_cleanly(self) -> None:
        rc = self.stop()
        assert rc == 0, f"tributary exited with {rc} after SIGTERM (expected 0):\n{self.log_tail()}"

    def restart(self) -> None:
        """Clean shutdown, then start again on the same data directory and port."""
        self.stop_cleanly()
        self.start()

    def kill(self) -> None:
        if self.proc is not None:
            proc, self.proc = self.proc, None
            self._kill_group(proc)

    @staticmethod
    def _kill_group(proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# clients

CLIENT_CONFIG = Config(
    region_name=REGION,
    retries={"total_max_attempts": 1, "mode": "standard"},  # surface every error as it is
    connect_timeout=5,
    read_timeout=30,  # a hung request fails the test instead of stalling the suite
)


def client(service: str, endpoint: str, validate: bool = True):
    """A boto3 client for the server; `validate=False` sends even what boto3 would refuse to
    send (out-of-range numbers, ...), to see the server's own validation."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=CLIENT_CONFIG.merge(Config(parameter_validation=validate)),
    )


class Clients:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.ddb = client("dynamodb", endpoint)
        self.streams = client("dynamodbstreams", endpoint)
        self.lam = client("lambda", endpoint)


@contextlib.contextmanager
def raw_responses(boto_client):
    """Capture the HTTP responses (status, lowercased headers, body text) a boto3 client receives, errors
    included, to assert on wire details boto3 hides (number vs string timestamps, error body
    member names, headers)."""
    seen: list[tuple[int, dict, str]] = []

    def hook(http_response, model=None, **_):
        headers = {k.lower(): v for k, v in http_response.headers.items()}
        # A streaming body (Invoke's Payload) must be left for the caller to read.
        streaming = model is not None and model.has_streaming_output and http_response.status_code < 300
        seen.append((http_response.status_code, headers, None if streaming else http_response.text))

    boto_client.meta.events.register("after-call", hook)
    try:
        yield seen
    finally:
        boto_client.meta.events.unregister("after-call", hook)


def signed_request(endpoint: str, target: str, body: bytes, service: str = "dynamodb") -> tuple[int, dict, bytes]:
    """POST a JSON 1.0 request with a valid SigV4 signature and an arbitrary (even malformed) body."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), service, REGION).add_auth(req)
    prepared = req.prepare()
    http_req = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http_req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def error_of(exc) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a botocore ClientError."""
    r = exc.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Message", "")


# --------------------------------------------------------------------------------------------
# the AWS CLI


class CliError(AssertionError):
    pass


class AwsCli:
    """Runs the AWS CLI from the virtualenv against the server; parses JSON output."""

    ERROR = re.compile(
        r"An error occurred \((?P<code>[^)]+)\) when calling the (?P<op>\w+) operation"
        r"(?: \(reached max retries: \d+\))?: (?P<msg>.*)"
    )

    def __init__(self, endpoint: str, cwd: Path):
        self.endpoint = endpoint
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(cwd / "no-such-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(cwd / "no-such-aws-credentials"),
            AWS_PAGER="",
            AWS_MAX_ATTEMPTS="1",
            AWS_RETRY_MODE="standard",
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        if not AWS_CLI.is_file():
            raise AssertionError(f"{AWS_CLI} missing: run the tests through scripts/test.sh (it installs awscli)")
        cmd = [str(AWS_CLI), *args, "--endpoint-url", self.endpoint, "--region", REGION]
        if "--output" not in args:
            cmd += ["--output", "json"]
        return subprocess.run(cmd, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=120)

    def __call__(self, *args: str, expect_error: str | None = None):
        """Run `aws ARGS...`. Returns parsed JSON (None for no output; the raw text when the command
        chose its own --output). With expect_error, asserts the command failed with that AWS error
        code and returns (operation, message)."""
        p = self.run(*args)
        if expect_error is not None:
            assert p.returncode != 0, f"aws {shlex.join(args)} succeeded, expected {expect_error}: {p.stdout}"
            m = self.ERROR.search(p.stderr)
            assert m, f"aws {shlex.join(args)}: no AWS error on stderr: {p.stderr!r}"
            assert m.group("code") == expect_error, f"expected {expect_error}, got: {p.stderr.strip()}"
            return m.group("op"), m.group("msg").strip()
        if p.returncode != 0:
            raise CliError(f"aws {shlex.join(args)} failed ({p.returncode}):\n{p.stderr.strip()}")
        if "--output" in args:
            return p.stdout.strip()
        return json.loads(p.stdout) if p.stdout.strip() else None


# --------------------------------------------------------------------------------------------
# function code


def zip_bytes(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> bytes:
    """A deployment package: name -> content; names in `executable` get mode 0755 (e.g. bootstrap)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = ((0o755 if name in executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
    return buf.getvalue()


def code_sha256(zip_data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(zip_data).digest()).decode()


# A handler that appends every event it receives, as a JSON line, to $RECORDS_FILE; it fails
# (after recording the attempt) while the file named by $FAIL_WHILE_EXISTS exists.
RECORDER_PY = """\
import json
import os


def handler(event, context):
    flag = os.environ.get("FAIL_WHILE_EXISTS")
    failing = bool(flag) and os.path.exists(flag)
    line = json.dumps({"requestId": context.aws_request_id, "failed": failing, "event": event})
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(line + "\\n")
    if failing:
        raise RuntimeError("failing on purpose while " + flag + " exists")
    return {"processed": len(event.get("Records", []))}
"""


def read_jsonl(path: Path) -> list[dict]:
    """The whole lines of a JSON-lines file a function appends to (none if it does not exist yet);
    a line being written while we read may be incomplete, so only whole lines count."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


class RecordLog:
    """What a recorder function has received, read back from its JSON-lines file."""

    def __init__(self, path: Path):
        self.path = path

    def invocations(self) -> list[dict]:
        return read_jsonl(self.path)

    def successful(self) -> list[dict]:
        return [i for i in self.invocations() if not i.get("failed")]

    def records(self, successful_only: bool = True) -> list[dict]:
        invs = self.successful() if successful_only else self.invocations()
        return [r for inv in invs for r in inv["event"].get("Records", [])]

    def wait_records(self, n: int, timeout: float = DEADLINE) -> list[dict]:
        """Wait until at least n records were delivered successfully; returns them all."""
        return wait_for(
            lambda: (lambda rs: rs if len(rs) >= n else None)(self.records()),
            f"{n} records delivered to the function (have {len(self.records())}) in {self.path}",
            timeout,
        )


def new_image_value(record: dict, attr: str) -> str | None:
    image = record["dynamodb"].get("NewImage") or record["dynamodb"].get("OldImage") or record["dynamodb"]["Keys"]
    value = image.get(attr)
    return None if value is None else next(iter(value.values()))


# --------------------------------------------------------------------------------------------
# resources


class Env:
    """Per-test access to a server: clients plus create-and-wait helpers."""

    def __init__(self, server: Tributary, clients: Clients, tmp: Path):
        self.server = server
        self.c = clients
        self.tmp = tmp

    # the server clock -------------------------------------------------------------------
    def clock(self) -> float:
        """The server clock, epoch seconds."""
        with urllib.request.urlopen(f"{self.server.endpoint}/_tributary/clock", timeout=10) as r:
            return json.loads(r.read())["now"]

    def get_json(self, path: str):
        """GET one of the server's own JSON endpoints (`/_tributary/...`)."""
        with urllib.request.urlopen(f"{self.server.endpoint}{path}", timeout=10) as r:
            return json.loads(r.read())

    def advance_clock(self, seconds: float) -> float:
        """Moves the server clock forward for every time-based rule; answers the new time."""
        req = urllib.request.Request(
            f"{self.server.endpoint}/_tributary/clock/advance",
            data=json.dumps({"seconds": seconds}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())["now"]

    def drain(self, uuid_: str, timeout: float = 30) -> dict:
        """`POST /_tributary/event-source-mappings/<UUID>/drain`: waits until the mapping has
        handled every record committed so far; fails the test if it did not within `timeout`."""
        req = urllib.request.Request(
            f"{self.server.endpoint}/_tributary/event-source-mappings/{uuid_}/drain?timeout={timeout}",
            method="POST",
            data=b"",
        )
        with urllib.request.urlopen(req, timeout=timeout + 10) as r:
            out = json.loads(r.read())
        assert out["Drained"], out
        return out

    # tables -----------------------------------------------------------------------------
    def create_table(
        self,
        name: str | None = None,
        view_type: str | None = "NEW_AND_OLD_IMAGES",
        key: str = "pk",
        key_type: str = "S",
        sort_key: tuple[str, str] | None = None,
    ) -> dict:
        name = name or unique("tbl")
        attrs = [{"AttributeName": key, "AttributeType": key_type}]
        schema = [{"AttributeName": key, "KeyType": "HASH"}]
        if sort_key:
            attrs.append({"AttributeName": sort_key[0], "AttributeType": sort_key[1]})
            schema.append({"AttributeName": sort_key[0], "KeyType": "RANGE"})
        kwargs: dict[str, Any] = dict(
            TableName=name, AttributeDefinitions=attrs, KeySchema=schema, BillingMode="PAY_PER_REQUEST"
        )
        if view_type:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
        self.c.ddb.create_table(**kwargs)
        return self.wait_table_active(name)

    def wait_table_active(self, name: str) -> dict:
        def check():
            t = self.c.ddb.describe_table(TableName=name)["Table"]
            return t if t["TableStatus"] == "ACTIVE" else None

        return wait_for(check, f"table {name} ACTIVE")

    # functions --------------------------------------------------------------------------
    def create_function(
        self,
        code: bytes,
        name: str | None = None,
        runtime: str = "python3.12",
        handler: str = "handler.handler",
        env: dict[str, str] | None = None,
        **extra,
    ) -> str:
        name = name or unique("fn")
        kwargs: dict[str, Any] = dict(
            FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Code={"ZipFile": code}, **extra
        )
        if env:
            kwargs["Environment"] = {"Variables": env}
        self.c.lam.create_function(**kwargs)
        self.wait_function_active(name)
        return name

    def wait_function_active(self, name: str) -> dict:
        def check():
            cfg = self.c.lam.get_function(FunctionName=name)["Configuration"]
            if cfg.get("State") == "Failed":
                raise AssertionError(f"function {name} failed: {cfg.get('StateReason')}")
            return cfg if cfg.get("State") == "Active" else None

        return wait_for(check, f"function {name} Active")

    def recorder(self, fail_flag: Path | None = None, **kw) -> tuple[str, RecordLog]:
        """A Python function that records what it receives; returns (name, log)."""
        path = self.tmp / f"{unique('records')}.jsonl"
        env = {"RECORDS_FILE": str(path)}
        if fail_flag is not None:
            env["FAIL_WHILE_EXISTS"] = str(fail_flag)
        name = self.create_function(zip_bytes({"handler.py": RECORDER_PY}), env=env, **kw)
        return name, RecordLog(path)

    # mappings ---------------------------------------------------------------------------
    def create_mapping(
        self, function: str, stream_arn: str, starting_position: str = "TRIM_HORIZON", wait: bool = True, **kw
    ) -> dict:
        esm = self.c.lam.create_event_source_mapping(
            FunctionName=function, EventSourceArn=stream_arn, StartingPosition=starting_position, **kw
        )
        if wait:
            self.wait_mapping_state(esm["UUID"], "Disabled" if kw.get("Enabled") is False else "Enabled")
        return esm

    def wait_mapping_state(self, uuid_: str, state: str, timeout: float = DEADLINE) -> dict:
        def check():
            m = self.c.lam.get_event_source_mapping(UUID=uuid_)
            return m if m["State"] == state else None

        return wait_for(check, f"event source mapping {uuid_} {state}", timeout)

    # streams ----------------------------------------------------------------------------
    def stream_records(self, stream_arn: str, iterator_type: str = "TRIM_HORIZON", **kw) -> list[dict]:
        """Everything currently in the stream's open shard(s), read with GetRecords until empty."""
        shards = self.c.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        out: list[dict] = []
        for shard in shards:
            it = self.c.streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType=iterator_type, **kw
            )["ShardIterator"]
            while it:
                page = self.c.streams.get_records(ShardIterator=it)
                out.extend(page["Records"])
                if not page["Records"]:
                    break
                it = page.get("NextShardIterator")
        return out
