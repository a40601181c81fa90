#!/usr/bin/env python3
"""GetRecords throughput: how fast a stream consumer can drain a DynamoDB stream through the
DynamoDB Streams API.

Each run starts its own `tributary serve` (--in-memory, or --data-dir), preloads N items with
BatchWriteItem (one stream record each, 200-byte items), then drains the stream shard by shard
with GetRecords Limit=1000, as a KCL-style reader does, twice:

  boto3  records/s through boto3's dynamodbstreams client (what a Python consumer gets; includes
         botocore's JSON parsing and type handling on the client side)
  raw    records/s with a keep-alive http.client connection and prebuilt request bodies; the
         client only extracts NextShardIterator, so this is close to the server's own rate
         ("inside the server" plus one HTTP round trip per 1000 records)

Also reported: server CPU µs per record for the raw drain (from /proc), and the response size.
Every drain must return exactly N records; anything else is reported as an anomaly.

  python3 bench/streams.py [--data-dir] [-n 100000] [--shards 1] [--repeat 3] [--bin target/release/tributary]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e  # noqa: E402  (shares the server harness and /proc accounting)
from e2e import RawDdb, Server, anomaly, log  # noqa: E402


def preload(port: int, table: str, n: int) -> float:
    raw = RawDdb(port)
    raw.headers = dict(raw.headers, **{"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem"})
    pad = "x" * 160
    t0 = time.monotonic()
    for a in range(0, n, 25):
        reqs = ",".join(
            '{"PutRequest":{"Item":{"pk":{"S":"k%08d"},"v":{"S":"%s"}}}}' % (j, pad) for j in range(a, min(n, a + 25))
        )
        st, body = raw.put(('{"RequestItems":{"%s":[%s]}}' % (table, reqs)).encode())
        if st != 200 or json.loads(body).get("UnprocessedItems"):
            sys.exit(f"preload failed: {st} {body[:200]!r}")
    return n / (time.monotonic() - t0)


def shard_ids(streams, arn: str) -> list[str]:
    return [s["ShardId"] for s in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]]


def drain_boto3(streams, arn: str) -> tuple[int, float]:
    t0 = time.monotonic()
    n = 0
    for sid in shard_ids(streams, arn):
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it, Limit=1000)
            n += len(page["Records"])
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    return n, time.monotonic() - t0


def drain_raw(port: int, streams, arn: str) -> tuple[int, float, int]:
    raw = RawDdb(port)
    raw.headers = dict(raw.headers, **{"X-Amz-Target": "DynamoDBStreams_20120810.GetRecords"})
    its = [
        streams.get_shard_iterator(StreamArn=arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for sid in shard_ids(streams, arn)
    ]
    n = 0
    nbytes = 0
    t0 = time.monotonic()
    for it in its:
        while it:
            st, body = raw.put(('{"ShardIterator":"%s","Limit":1000}' % it).encode())
            if st != 200:
                sys.exit(f"GetRecords failed: {st} {body[:200]!r}")
            nbytes += len(body)
            # Count records without building them: each record has exactly one "eventID".
            got = body.count(b'"eventID"')
            n += got
            if got == 0:
                break
            tail = body.rfind(b'"NextShardIterator"')
            it = json.loads(b"{" + body[tail:]) ["NextShardIterator"] if tail >= 0 else None
    return n, time.monotonic() - t0, nbytes


def run(args, i: int) -> dict:
    binary, sha = e2e.snapshot_binary(Path(args.bin))
    run_dir = e2e.new_run_dir("streams", args.data_dir, i)
    e2e.STREAM_SHARDS = args.shards
    srv = Server(binary, run_dir, args.data_dir, keep_data=False)
    srv.start()
    try:
        ddb, _lam, streams = e2e.clients(srv.endpoint)
        table = f"bench-{i}"
        arn = e2e.create_table(ddb, table, "NEW_AND_OLD_IMAGES")
        load_rate = preload(srv.port, table, args.n)
        log(f"preloaded {args.n} items at {load_rate:.0f} items/s")

        n_b, t_b = drain_boto3(streams, arn)
        cpu0 = e2e.cpu_split(srv.proc.pid)[0]
        n_r, t_r, nbytes = drain_raw(srv.port, streams, arn)
        cpu1 = e2e.cpu_split(srv.proc.pid)[0]
        for what, got in (("boto3", n_b), ("raw", n_r)):
            if got != args.n:
                anomaly(f"{what} drain returned {got} records, expected {args.n}")
        r = {
            "store": "data-dir" if args.data_dir else "in-memory",
            "n": args.n,
            "shards": args.shards,
            "boto3_rps": n_b / t_b,
            "raw_rps": n_r / t_r,
            "server_us_per_record": (cpu1 - cpu0) * 1e6 / max(n_r, 1),
            "bytes_per_record": nbytes / max(n_r, 1),
            "binary_sha256": sha,
            "git": e2e.git_version(),
        }
        (run_dir / "result.json").write_text(json.dumps(r, indent=2) + "\n")
        log(f"boto3 {r['boto3_rps']:.0f} records/s, raw {r['raw_rps']:.0f} records/s, "
            f"server {r['server_us_per_record']:.2f} µs/record")
        return r
    finally:
        srv.stop()
        srv.scan_log()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", action="store_true", help="durable store instead of --in-memory")
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bin", default=str(e2e.REPO / "target/release/tributary"))
    args = ap.parse_args()
    rs = [run(args, i) for i in range(args.repeat)]
    med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
    print("| store | records | shards | boto3 records/s | raw records/s | server µs/record | bytes/record |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {rs[0]['store']} | {args.n} | {args.shards} | {med('boto3_rps'):.0f} | {med('raw_rps'):.0f} | "
          f"{med('server_us_per_record'):.2f} | {med('bytes_per_record'):.0f} |")
    print("per run raw records/s: " + ", ".join(f"{r['raw_rps']:.0f}" for r in rs))
    if e2e.ANOMALIES:
        print("ANOMALIES:\n  " + "\n  ".join(e2e.ANOMALIES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
