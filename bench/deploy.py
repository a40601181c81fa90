#!/usr/bin/env python3
"""How long deploys take: examples/sam-dynamodb (the DynamoDB guide's SAM template: a table with a
stream, a role, a Python function and its mapping) through `tributary deploy`.

For each of --repeat rounds, on one server (started here, in memory or with --data-dir):
  create   `tributary deploy` of a new stack, until CREATE_COMPLETE (the command's wall time)
  update   the handler edited, `tributary deploy` again: the function's code updated in place
  record   a PutItem until the new handler's first statement (the hot-reload round trip: the
           next record runs the new code)
  delete   `tributary deploy --delete`, until DELETE_COMPLETE

Prints one markdown row per round and the medians.

    cargo build --release -p tributary
    python3 bench/deploy.py --repeat 5            # in-memory store
    python3 bench/deploy.py --repeat 5 --data-dir # durable store (fsync per commit)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sam-dynamodb"

HANDLER = """\
import json
import os
import time


def lambda_handler(event, context):
    t = time.time_ns()
    with open(os.environ.get("MARKS", "/dev/null"), "a") as f:
        for r in event.get("Records", []):
            f.write(json.dumps({"key": r["dynamodb"]["Keys"]["id"]["S"], "version": VERSION, "t": t}) + "\\n")

VERSION = %d
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "tributary"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data-dir", action="store_true", help="use the durable store")
    args = ap.parse_args()

    import boto3  # noqa: PLC0415 (only needed once the server runs)

    work = Path(tempfile.mkdtemp(prefix="tributary-deploy-bench-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    store = ["--data-dir", str(work / "data")] if args.data_dir else ["--in-memory"]
    log = open(work / "server.log", "w")
    server = subprocess.Popen([args.bin, "serve", "--listen", f"127.0.0.1:{port}", *store],
                              stdout=log, stderr=subprocess.STDOUT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    ddb = boto3.client("dynamodb", **kw)
    cfn = boto3.client("cloudformation", **kw)
    rows = []
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

        def deploy(app: Path, stack: str, *extra: str) -> float:
            t0 = time.perf_counter()
            p = subprocess.run([args.bin, "deploy", "--endpoint", endpoint, "--stack-name", stack, *extra],
                               cwd=app, env=env, capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                raise SystemExit(f"deploy {' '.join(extra)} failed:\n{p.stdout}{p.stderr}")
            return dt

        for i in range(args.repeat):
            app = work / f"app{i}"
            shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns(".aws-sam"))
            marks = work / f"marks{i}.jsonl"
            template = (app / "template.yaml").read_text().replace(
                "      CodeUri: src/\n",
                f"      CodeUri: src/\n      Environment:\n        Variables:\n          MARKS: {marks}\n")
            (app / "template.yaml").write_text(template)
            (app / "src" / "app.py").write_text(HANDLER % 1)
            stack = f"bench-{i}-{os.getpid()}"
            create = deploy(app, stack)
            table = next(o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
                         if o["OutputKey"] == "TableName")
            (app / "src" / "app.py").write_text(HANDLER % 2)
            update = deploy(app, stack)
            key = f"k{i}"
            t0 = time.time_ns()
            ddb.put_item(TableName=table, Item={"id": {"S": key}})
            seen = None
            limit = time.monotonic() + 30
            while seen is None and time.monotonic() < limit:
                if marks.exists():
                    for line in marks.read_text().splitlines():
                        m = json.loads(line)
                        if m["key"] == key:
                            seen = m
                time.sleep(0.001)
            if seen is None or seen["version"] != 2:
                raise SystemExit(f"the record did not reach the new handler: {seen}")
            record = (seen["t"] - t0) / 1e9
            delete = deploy(app, stack, "--delete")
            rows.append((create, update, record, delete))
            print(f"| {i + 1} | {create * 1000:.0f} ms | {update * 1000:.0f} ms | {record * 1000:.0f} ms | "
                  f"{delete * 1000:.0f} ms |", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
        log.close()
    med = [statistics.median(c) for c in zip(*rows)]
    store_kind = "durable" if args.data_dir else "in-memory"
    print(f"| median ({store_kind}, {len(rows)} rounds) | {med[0] * 1000:.0f} ms | {med[1] * 1000:.0f} ms | "
          f"{med[2] * 1000:.0f} ms | {med[3] * 1000:.0f} ms |")
    if code != 0:
        print(f"server exited {code}; log in {work / 'server.log'}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    print("| round | create | code update | put → new handler | delete |")
    print("|---|---|---|---|---|")
    sys.exit(main())
